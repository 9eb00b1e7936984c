import io

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from governance.db import custom_plans
from org.decorators import role_required
from org.models import Role
from stats.figures import Period
from stats.views import DASHBOARD_ROLES, LABELS, user_scope

from . import jobs
from .exports import CASE_MOMENTS, case_headers, case_rows, cases_for, csv_lines, write_xlsx
from .forms import CaseExportForm, EvaluationForm
from .models import ExportJob, Kpi, Subject
from .scoring import evaluate

EVALUATION_ROLES = (Role.SUPERVISOR, Role.ADMINISTRATOR, Role.OFFICER)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def evaluation_context(request):
    scope = user_scope(request)
    form = EvaluationForm(request.GET)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    period = Period(data["start"], data["end"])
    found = evaluate(scope, period, data["level"])
    level_title = dict(form.fields["level"].choices)[data["level"]]
    sections = [
        (level_title, found["areas"], "areas"),
        (_("Departments"), found["departments"], "departments"),
        (_("Posts"), found["posts"], "posts"),
    ]
    return form, {
        "period": period,
        "level": data["level"],
        "scope": scope,
        "sections": sections,
        "now": timezone.localtime(),
        **found,
    }


def table(found) -> tuple[list[str], list[tuple]]:
    """The evaluation as one flat table (for the exports)."""
    kpis = list(Kpi)
    headers = [_("Evaluated"), _("Rank"), _("Name"), _("Score"), _("Grade")]
    headers += [str(k.label) for k in kpis]
    rows = []
    for section in ("areas", "departments", "posts"):
        for r in found[section]:
            rows.append(
                (
                    str(Subject(r.subject).label),
                    "" if r.rank is None else r.rank,
                    r.name,
                    "" if r.score is None else round(r.score, 2),
                    r.grade,
                    *("" if r.values.get(k) is None else round(100 * r.values[k], 2) for k in kpis),
                )
            )
    return headers, rows


@role_required(*EVALUATION_ROLES)
@custom_plans()  # the figures' reads, planned for this period's dates (see stats)
def evaluation_page(request):
    form, found = evaluation_context(request)
    if found is None:
        return render(request, "evaluation/evaluation.html", {"form": form}, status=400)
    fmt = request.GET.get("format")
    if fmt in ("csv", "xlsx"):
        headers, rows = table(found)
        name = f"evaluation-{found['period'].start}-{found['period'].end}.{fmt}"
        if fmt == "csv":
            response = StreamingHttpResponse(csv_lines(headers, rows), content_type="text/csv")
        else:
            buffer = io.BytesIO()
            write_xlsx(buffer, headers, rows, title=_("Evaluation"))
            response = HttpResponse(buffer.getvalue(), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    template = (
        "evaluation/report.html" if request.GET.get("print") else "evaluation/evaluation.html"
    )
    return render(
        request,
        template,
        {"form": form, "kpis": list(Kpi), "query": request.GET.urlencode(), **found},
    )


@role_required(*DASHBOARD_ROLES)
def export_cases(request):
    """GET: the form (filters as on the dashboard's lists); POST: stream a small export
    straight back, or start a background job for a large one."""
    scope = user_scope(request)
    if request.method != "POST":
        form = CaseExportForm(initial={"figure": "reported", **request.GET.dict()})
        return render(request, "evaluation/export_cases.html", _export_page(request, form))
    form = CaseExportForm(request.POST)
    if not form.is_valid():
        return render(
            request, "evaluation/export_cases.html", _export_page(request, form), status=400
        )
    params = form.params()
    queryset = cases_for(request.user, params, scope)
    total = queryset.count()
    fmt = form.cleaned_data["format"]
    if total > jobs.small_export_limit():
        job = jobs.create(request.user, params, fmt, total)
        return redirect("evaluation:job", pk=job.pk)
    name = f"cases-{params['figure']}-{params['start']}-{params['end']}.{fmt}"
    if fmt == "csv":
        response = StreamingHttpResponse(
            csv_lines(case_headers(), case_rows(queryset)), content_type="text/csv"
        )
    else:
        buffer = io.BytesIO()
        write_xlsx(buffer, case_headers(), case_rows(queryset), moments=CASE_MOMENTS)
        response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _export_page(request, form) -> dict:
    return {
        "form": form,
        "labels": LABELS,
        "jobs": ExportJob.objects.filter(owner=request.user)[:20],
        "limit": jobs.small_export_limit(),
    }


def own_job(request, pk) -> ExportJob:
    """Only the person who asked for an export sees or downloads it."""
    job = get_object_or_404(ExportJob, pk=pk)
    if job.owner_id != request.user.pk:
        raise Http404
    return job


@login_required
def job_page(request, pk):
    return render(request, "evaluation/job.html", {"job": own_job(request, pk)})


@never_cache
@login_required
def job_status(request, pk):
    job = own_job(request, pk)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "rows": job.rows,
            "total": job.total,
            "percent": job.percent,
            "download": job.status == ExportJob.Status.DONE and job.expires_at > timezone.now(),
            "error": job.error,
        }
    )


@login_required
def job_download(request, pk):
    job = own_job(request, pk)
    if job.status != ExportJob.Status.DONE or job.expires_at <= timezone.now():
        raise Http404
    if not job.path.exists():
        raise Http404
    return FileResponse(
        open(job.path, "rb"),
        as_attachment=True,
        filename=f"cases-{job.pk}.{job.format}",
        content_type=XLSX if job.format == "xlsx" else "text/csv",
    )


@require_POST
@login_required
def job_delete(request, pk):
    job = own_job(request, pk)
    job.path.unlink(missing_ok=True)
    job.delete()
    return redirect("evaluation:export_cases")
