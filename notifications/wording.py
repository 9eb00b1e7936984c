"""What GridGov's own notifications say, written from what they keep (``Notification.params``)
so that each reader sees them in the language of their pages. The stored title and text
are the same words in the server's language, for the e-mail digest and as they were."""

from django.utils.translation import gettext as _


def case_closed(params: dict) -> tuple[str, str]:
    return (
        _("Case %(number)s is closed") % {"number": params["number"]},
        _("The problem you reported was fixed and checked on site: %(description)s")
        % {"description": params["description"]},
    )


def escalation(params: dict) -> tuple[str, str]:
    from clocks.models import ClockKind, EscalationStep

    kind = params["clock_kind"]
    # The step's names as they were when it fired, read in the reader's language (no query:
    # an inbox page writes dozens of these).
    step = EscalationStep(name=params["step"], name_en=params.get("step_en") or "")
    return (
        _("%(step)s: case %(case)s (%(clock)s)")
        % {
            "step": step.display_name(),
            "case": params["case"],
            "clock": ClockKind(kind).label if kind in ClockKind.values else kind,
        },
        _("Deadline %(deadline)s.") % {"deadline": params["deadline"]},
    )


WORDINGS = {"case_closed": case_closed, "escalation": escalation}


def worded(name: str, params: dict) -> tuple[str, str]:
    """The title and text of the wording ``name`` in the active language."""
    return WORDINGS[name](params)
