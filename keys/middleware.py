from django.utils.deprecation import MiddlewareMixin

from .models import ApiRequestLog

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
LOGGED_PATHS = ("/api/", "/open311/")


class ApiRequestLogMiddleware(MiddlewareMixin):
    """Record every API request that may change something: who it acted as, with which
    key, and how it ended. Reads are not logged (a key's last use is on the key)."""

    def process_response(self, request, response):
        if request.method not in SAFE_METHODS and request.path.startswith(LOGGED_PATHS):
            user = getattr(request, "user", None)
            key = getattr(request, "api_key", None)
            ApiRequestLog.objects.create(
                user=user if user is not None and user.is_authenticated else None,
                api_key=key,
                method=request.method[:10],
                path=request.path[:500],
                status=response.status_code,
                remote_addr=request.META.get("REMOTE_ADDR") or None,
            )
        return response
