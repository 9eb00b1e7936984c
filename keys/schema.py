"""How the OpenAPI schema describes our two credentials (loaded by KeysConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "keys.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "An API key issued by an administrator, sent as `Api-Key <key>` "
                "(or, for Open311 clients, an `api_key` query or form parameter)."
            ),
        }


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "keys.authentication.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A personal token from /api/v1/auth/token/, sent as `Token <token>`.",
        }
