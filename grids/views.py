from django.conf import settings
from django.contrib.gis.db.models import Extent
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation

from org.decorators import role_required
from org.models import Role

from .forms import ImportColumnsForm, ImportUploadForm
from .models import ImportJob, UnitGrid
from .serializers import GridFeatureSerializer, grid_features, with_current_assignments
from .tasks import run_import

# Tiles of China's national map (天地图), Web Mercator; {layer} is "vec" (roads and
# buildings) or "cva" (their Chinese labels); {{z}} and the like are Leaflet's. Its
# coordinates are CGCS2000, WGS84 to within centimetres, so the grids need no shift
# (unlike maps in GCJ-02).
TIANDITU_URL = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
    "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
# From this zoom on the grid map writes each grid's code on it.
LABEL_ZOOM = 17


def base_layers() -> list[dict]:
    """The tile layers under a map (MAP_BASE_LAYER), as Leaflet's L.tileLayer arguments.
    None by default: a plain background, and no request leaves the building."""
    if settings.MAP_BASE_LAYER == "osm":
        return [
            {
                "url": settings.MAP_TILE_URL,
                "options": {"maxZoom": 19, "attribution": "© OpenStreetMap contributors"},
            }
        ]
    if settings.MAP_BASE_LAYER == "tianditu":
        return [
            {
                "url": TIANDITU_URL.format(layer=layer, key=settings.TIANDITU_KEY),
                "options": {"subdomains": "01234567", "maxZoom": 18, "attribution": "© 天地图"},
            }
            for layer in ("vec", "cva")
        ]
    return []


@role_required(Role.ADMINISTRATOR, Role.SUPERVISOR)
def grid_map(request):
    """Every current grid with its workers; the map loads what is in view from the API."""
    extent = UnitGrid.objects.current().aggregate(extent=Extent("boundary"))["extent"]
    config = {
        "gridsUrl": reverse("grids_api:grids"),
        "areasUrl": reverse("grids_api:areas"),
        "extent": extent,
        "base": base_layers(),
        "labelZoom": LABEL_ZOOM,
    }
    return render(request, "grids/map.html", {"map_config": config})


@role_required(Role.GRID_WORKER)
def my_grids(request):
    """The grids the worker patrols today, on a map and in a list."""
    grids = with_current_assignments(
        list(grid_features(UnitGrid.objects.current().covered_by(request.user)))
    )
    for grid in grids:
        grid.my_duties = [
            assignment.get_duty_display()
            for assignment in grid.current_assignments
            if assignment.worker_id == request.user.pk
        ]
    config = {"grids": GridFeatureSerializer(grids, many=True).data, "base": base_layers()}
    from cases.models import Case

    open_cases = (
        Case.objects.open()
        .filter(grid__in=[grid.pk for grid in grids])
        .select_related("category", "category__parent", "department", "grid", "community")
        .defer("description")
        .order_by("deadline", "-reported_at")[:100]
    )
    return render(
        request,
        "grids/mine.html",
        {"grids": grids, "map_config": config, "open_cases": open_cases},
    )


IMPORTS_LISTED = 20


@role_required(Role.ADMINISTRATOR)
def imports(request):
    jobs = ImportJob.objects.select_related("created_by")[:IMPORTS_LISTED]
    return render(request, "grids/imports.html", {"jobs": jobs})


@role_required(Role.ADMINISTRATOR)
def import_new(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["upload"]
        job = ImportJob.objects.create(
            kind=form.cleaned_data["kind"],
            upload=upload,
            original_name=upload.name[:255],
            layers=form.layers,
            language=translation.get_language() or "",
            created_by=request.user,
        )
        return redirect("grids:import_columns", job.pk)
    return render(request, "grids/import_new.html", {"form": form})


@role_required(Role.ADMINISTRATOR)
def import_columns(request, pk):
    job = get_object_or_404(ImportJob, pk=pk)
    if job.status != ImportJob.Status.MAPPING:
        return redirect("grids:import_detail", job.pk)
    wanted = request.POST.get("layer") or request.GET.get("layer") or "0"
    layer = int(wanted) if wanted.isdigit() and int(wanted) < len(job.layers) else 0
    form = ImportColumnsForm(request.POST or None, job=job, layer=layer)
    if request.method == "POST" and form.is_valid():
        if job.submit(**form.submission()):
            run_import.delay_on_commit(job.pk)
        return redirect("grids:import_detail", job.pk)
    return render(
        request,
        "grids/import_columns.html",
        {"job": job, "layer": job.layers[layer], "layer_index": layer, "form": form},
    )


@role_required(Role.ADMINISTRATOR)
def import_detail(request, pk):
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=pk)
    if job.status == ImportJob.Status.MAPPING:
        return redirect("grids:import_columns", job.pk)
    return render(request, "grids/import_detail.html", {"job": job})


@role_required(Role.ADMINISTRATOR)
def import_status(request, pk):
    """Polled by the job page every second while the import runs."""
    job = get_object_or_404(ImportJob.objects.only("status", "progress"), pk=pk)
    return JsonResponse(
        {
            "status": job.status,
            "label": job.get_status_display(),
            "progress": job.progress,
            "finished": job.finished,
        }
    )
