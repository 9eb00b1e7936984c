from django.urls import path

from governance.urls import urlpatterns as served

from .intake import IntakeView

urlpatterns = [path("bench/intake", IntakeView.as_view()), *served]
