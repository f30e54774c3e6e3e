"""Open a geo_stunting output folder with QGIS's own Python API and report on it (as JSON).

Run by tests/test_qgis.py with Debian's python3 (python3-qgis), never imported
by pytest: ``QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_check.py OUTDIR PNG``.
Prints one JSON object: the project's layers (name, valid, feature count,
renderer, rules with their filters and the features each selects, labels on,
visible), the layer tree, relations, the default style of each GeoPackage
layer, GDAL's relationships and the rendered PNG's share of non-background pixels.
"""

import json
import os
import sys
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsFeatureRequest,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsRuleBasedRenderer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def rules(layer):
    renderer = layer.renderer()
    if not isinstance(renderer, QgsRuleBasedRenderer):
        return None
    out = []

    def walk(rule):
        for child in rule.children():
            expression = child.filterExpression()
            count = None
            if expression and not child.isElse():
                request = QgsFeatureRequest().setFilterExpression(expression)
                count = sum(1 for _ in layer.getFeatures(request))
            out.append(
                {
                    "label": child.label(),
                    "filter": expression,
                    "count": count,
                    "active": child.active(),
                    "symbol": None if child.symbol() is None else child.symbol().color().name(),
                }
            )
            walk(child)

    walk(renderer.rootRule())
    return out


def main(out_dir, png):
    app = QgsApplication([], False)
    app.initQgis()
    project = QgsProject.instance()
    ok = project.read(str(Path(out_dir) / "layers.qgz"))
    root = project.layerTreeRoot()
    report = {"read": ok, "layers": {}, "tree": [], "relations": [], "defaults": {}}
    for group in root.children():
        report["tree"].append(
            {
                "name": group.name(),
                "children": [c.name() for c in getattr(group, "children", list)()],
            }
        )
    for layer in project.mapLayers().values():
        node = root.findLayer(layer.id())
        report["layers"][layer.name()] = {
            "valid": layer.isValid(),
            "source": project.writePath(layer.source()),
            "features": layer.featureCount(),
            "rules": rules(layer) if layer.isSpatial() else None,
            "labels": layer.labelsEnabled(),
            "visible": bool(node and node.isVisible()),
            "abstract": layer.metadata().abstract(),
        }
    for relation in project.relationManager().relations().values():
        report["relations"].append(
            {"name": relation.name(), "valid": relation.isValid(), "pairs": relation.fieldPairs()}
        )
    gpkg = str(Path(out_dir) / "layers.gpkg")
    for name in report["layers"]:
        layer = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
        _message, loaded = layer.loadDefaultStyle()
        report["defaults"][name] = {
            "loaded": loaded,
            "rules": None if not loaded or not layer.isSpatial() else len(rules(layer) or []),
        }
    try:
        from osgeo import gdal  # noqa: PLC0415 - optional here

        dataset = gdal.OpenEx(gpkg)
        report["gdal_relationships"] = list(dataset.GetRelationshipNames() or [])
    except (ImportError, AttributeError) as exc:
        report["gdal_relationships"] = f"unavailable: {exc}"

    settings = QgsMapSettings()
    visible = [n.layer() for n in root.findLayers() if n.isVisible() and n.layer().isSpatial()]
    settings.setLayers(visible)
    settings.setDestinationCrs(project.crs())
    settings.setBackgroundColor(QColor(255, 255, 255))
    settings.setOutputSize(QSize(1200, 900))
    extent = visible[0].extent()
    for layer in visible[1:]:
        extent.combineExtentWith(layer.extent())
    settings.setExtent(extent)
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(png, "PNG")
    white = QColor(255, 255, 255).rgb()
    step = 5
    total = painted = 0
    for x in range(0, image.width(), step):
        for y in range(0, image.height(), step):
            total += 1
            painted += image.pixel(x, y) != white
    report["painted_share"] = painted / total
    report["colours"] = len(
        {image.pixel(x, y) for x in range(0, 1200, 7) for y in range(0, 900, 7)}
    )
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    os._exit(0)  # exitQgis() after a project read can crash on exit; nothing is left to save


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
