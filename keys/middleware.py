from django.utils.deprecation import MiddlewareMixin

from .models import ApiRequestLog

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
LOGGED_PATHS = ("/api/", "/open311/")


class ApiRequestLogMiddleware(MiddlewareMixin):
    """Record every API request that may change something: who it acted as, with which
    key, and how it ended. Reads are not logged (a key's last use is on the key)."""

    def process_response(self, request, response):
        if (
            request.method not in SAFE_METHODS
            and request.path.startswith(LOGGED_PATHS)
            and not getattr(request, "api_request_logged", False)
        ):
            ApiRequestLog.of_request(request, response.status_code).write()
        return response
