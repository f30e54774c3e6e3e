/* geo_stunting map runtime: draws a run's layers from the JSON data embedded in the page.
 * Every attribute value is inserted as text (textContent), never as markup. */
(function () {
  "use strict";
  var GS = (window.geoStunting = window.geoStunting || {});
  GS.groups = [];
  GS.ready = false;
  var data = null;
  var tables = {};

  function getData() {
    if (data === null) {
      data = JSON.parse(document.getElementById("gs-data").textContent);
      Object.keys(data.tables).forEach(function (name) {
        var t = data.tables[name];
        t.byName = {};
        t.columns.forEach(function (c) { t.byName[c.name] = c; });
        if (t.shape) {
          var dxy = t.shape.xy, xy = new Float64Array(dxy.length), ax = 0, ay = 0;
          for (var k = 0; k < dxy.length; k += 2) {
            ax += dxy[k]; ay += dxy[k + 1];
            xy[k] = ax / 1e6; xy[k + 1] = ay / 1e6;
          }
          t.shape.coords = xy;
        }
        tables[name] = t;
      });
      data.groups.forEach(function (g) {
        if (g.rows && g.rows.delta) {
          var rows = new Array(g.rows.delta.length), acc = 0;
          for (var k = 0; k < rows.length; k++) { acc += g.rows.delta[k]; rows[k] = acc; }
          g.rows = rows;
        } else if (g.rows && g.rows.same !== undefined) {
          g.rows = data.groups[g.rows.same].rows;
        }
      });
    }
    return data;
  }

  /* ------------------------------------------------------------------ symbols on canvas */
  L.Canvas.include({
    _gsShape: function (layer) {
      if (!this._drawing || layer._empty()) { return; }
      var p = layer._point, ctx = this._ctx, r = Math.max(Math.round(layer._radius), 1);
      var shape = layer.options.shape, k;
      ctx.beginPath();
      if (shape === "square") {
        ctx.rect(p.x - r, p.y - r, 2 * r, 2 * r);
      } else if (shape === "diamond") {
        k = r * 1.35;
        ctx.moveTo(p.x, p.y - k); ctx.lineTo(p.x + k, p.y); ctx.lineTo(p.x, p.y + k);
        ctx.lineTo(p.x - k, p.y); ctx.closePath();
      } else if (shape === "triangle") {
        k = r * 1.3;
        ctx.moveTo(p.x, p.y - k); ctx.lineTo(p.x + k, p.y + k * 0.8);
        ctx.lineTo(p.x - k, p.y + k * 0.8); ctx.closePath();
      } else if (shape === "cross") {
        k = r / 2.6;
        ctx.moveTo(p.x - k, p.y - r); ctx.lineTo(p.x + k, p.y - r); ctx.lineTo(p.x + k, p.y - k);
        ctx.lineTo(p.x + r, p.y - k); ctx.lineTo(p.x + r, p.y + k); ctx.lineTo(p.x + k, p.y + k);
        ctx.lineTo(p.x + k, p.y + r); ctx.lineTo(p.x - k, p.y + r); ctx.lineTo(p.x - k, p.y + k);
        ctx.lineTo(p.x - r, p.y + k); ctx.lineTo(p.x - r, p.y - k); ctx.lineTo(p.x - k, p.y - k);
        ctx.closePath();
      } else {
        ctx.arc(p.x, p.y, r, 0, Math.PI * 2, false);
      }
      var o = layer.options, w = o.weight, k2 = layer._gsScale;
      if (k2 < 1 && o.stroke !== false && w > 1) {
        o.weight = Math.max(w * k2, 1);
        this._fillStroke(ctx, layer);
        o.weight = w;
      } else {
        this._fillStroke(ctx, layer);
      }
    }
  });
  /* Symbols shrink below zoom 13 (0.7 a zoom level, to 0.4 of their size), so that a
   * district overview of thousands of children and hundreds of posyandu stays readable;
   * from zoom 13 (a few villages, the demo's view) they keep the sizes of the legend. */
  var FULL_SIZE_ZOOM = 13, SHRINK_PER_ZOOM = 0.7, SMALLEST_SCALE = 0.4;
  function symbolScale(zoom) {
    return zoom >= FULL_SIZE_ZOOM ? 1 : Math.max(SMALLEST_SCALE, Math.pow(SHRINK_PER_ZOOM, FULL_SIZE_ZOOM - zoom));
  }
  GS.symbolScale = symbolScale;
  var GsSymbol = L.CircleMarker.extend({
    options: { shape: "circle" },
    _project: function () {
      this._gsScale = symbolScale(this._map.getZoom());
      this._radius = this.options.radius * this._gsScale;
      L.CircleMarker.prototype._project.call(this);
    },
    _updatePath: function () {
      if (this._renderer && this._renderer._gsShape) { this._renderer._gsShape(this); }
      else { L.CircleMarker.prototype._updatePath.call(this); }
    }
  });

  /* ---------------------------------------------------------------------------- values */
  function cell(col, i) {
    var v = col.values;
    if (v !== null && !Array.isArray(v)) {
      var k = v.k[i];
      return k === null || k < 0 ? null : v.c[k];
    }
    return v[i];
  }
  function group3(s) { return s.replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function num(v) {
    if (typeof v !== "number") { return String(v); }
    var a = Math.abs(v);
    if (a !== 0 && (a < 0.001 || a >= 1e7)) { return v.toExponential(2); }
    var s = String(Number(v.toPrecision(4)));
    return a >= 1000 ? group3(String(Math.round(v))) : s;
  }
  function format(fmt, v) {
    if (v === null || v === undefined) { return "–"; }
    if (typeof v !== "number") { return String(v); }
    switch (fmt) {
      case "m": return a1000(v);
      case "m2": return v >= 1e5 ? Number((v / 1e6).toPrecision(3)) + " km²" : group3(String(Math.round(v))) + " m²";
      case "pct": return v.toFixed(1) + " %";
      case "p": return v < 0.001 ? "< 0.001" : v.toFixed(3);
      case "bool": return v ? "yes" : "no";
      case "int": return group3(String(Math.round(v)));
      default: return num(v);
    }
  }
  function a1000(v) {
    return v >= 10000 ? Number((v / 1000).toPrecision(3)) + " km" : group3(String(Math.round(v))) + " m";
  }
  function fill(template, table, i) {
    return template.replace(/\{([A-Za-z0-9_]+)\}/g, function (all, name) {
      var col = table.byName[name];
      return col ? format(col.fmt, cell(col, i)) : "–";
    });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function popupContent(spec, table, i) {
    var box = el("div", "gs-popup");
    box.appendChild(el("div", "gs-popup-title", spec.title));
    var tbl = el("table");
    table.columns.forEach(function (col) {
      var tr = el("tr");
      tr.appendChild(el("th", null, col.label));
      tr.appendChild(el("td", null, format(col.fmt, cell(col, i))));
      tbl.appendChild(tr);
    });
    box.appendChild(tbl);
    return box;
  }

  /* --------------------------------------------------------------------------- styles */
  function hexToRgb(h) {
    return [parseInt(h.substr(1, 2), 16), parseInt(h.substr(3, 2), 16), parseInt(h.substr(5, 2), 16)];
  }
  function rampColour(stops, v) {
    if (typeof v !== "number") { return null; }
    if (v <= stops[0][0]) { return stops[0][1]; }
    for (var j = 1; j < stops.length; j++) {
      if (v <= stops[j][0]) {
        var a = stops[j - 1], b = stops[j], t = (v - a[0]) / (b[0] - a[0] || 1);
        var ca = hexToRgb(a[1]), cb = hexToRgb(b[1]);
        return "rgb(" + [0, 1, 2].map(function (c) { return Math.round(ca[c] + t * (cb[c] - ca[c])); }).join(",") + ")";
      }
    }
    return stops[stops.length - 1][1];
  }
  function styleOf(spec, table, i, j) {
    var s = L.extend({}, spec.style);
    if (spec.cats && spec.cats[j] >= 0) { L.extend(s, spec.styles[spec.cats[j]]); }
    if (spec.ramp) {
      var c = rampColour(spec.ramp.stops, cell(table.byName[spec.ramp.column], i));
      if (c === null) { s.fillOpacity = 0; s.opacity = 0; } else { s[spec.ramp.prop] = c; }
    }
    if (s.dashArray) { s.dashArray = String(s.dashArray); }
    return s;
  }

  /* ----------------------------------------------------------------------- geometries */
  function shapeLayer(table, i, s) {
    var sh = table.shape, xy = sh.coords, parts = [], p, r, k;
    function run(a, b) {
      var out = new Array(b - a);
      for (var q = a; q < b; q++) { out[q - a] = [xy[2 * q + 1], xy[2 * q]]; }
      return out;
    }
    var g0 = sh.geoms[i], g1 = sh.geoms[i + 1];
    if (sh.family === "polygon") {
      for (p = g0; p < g1; p++) {
        var rings = [];
        for (r = sh.parts[p]; r < sh.parts[p + 1]; r++) { rings.push(run(sh.rings[r], sh.rings[r + 1])); }
        parts.push(rings);
      }
      return L.polygon(parts.length === 1 ? parts[0] : parts, s);
    }
    if (sh.family === "line") {
      for (p = g0; p < g1; p++) { parts.push(run(sh.parts[p], sh.parts[p + 1])); }
      return L.polyline(parts.length === 1 ? parts[0] : parts, s);
    }
    var fg = L.featureGroup();
    for (p = g0; p < g1; p++) {
      for (k = sh.parts[p]; k < sh.parts[p + 1]; k++) { fg.addLayer(new GsSymbol([xy[2 * k + 1], xy[2 * k]], s)); }
    }
    return fg;
  }

  /* --------------------------------------------------------------------------- groups */
  var DataGroup = L.FeatureGroup.extend({
    initialize: function (spec) {
      L.FeatureGroup.prototype.initialize.call(this, []);
      this.gsSpec = spec;
      this.gsBuilt = false;
    },
    onAdd: function (map) {
      var t0 = performance.now();
      if (!this.gsBuilt) { this.gsBuilt = true; build(this); }
      var t1 = performance.now();
      L.FeatureGroup.prototype.onAdd.call(this, map);
      this.gsMs = [t1 - t0, performance.now() - t1];
      if (OUTLINE_ABOVE[this.gsSpec.table]) { outlineOf(this).addTo(map); }
    },
    onRemove: function (map) {
      if (this.gsOutline) { map.removeLayer(this.gsOutline); }
      L.FeatureGroup.prototype.onRemove.call(this, map);
    },
    gsCount: function () { return this.getLayers().length; }
  });

  /* Facilities are drawn below the children, so that no child hides under a facility
   * symbol at a regency's zoom, and their outline once more above everything, so that no
   * facility hides under the children around it either. */
  var OUTLINE_ABOVE = { facilities: true };
  function outlineOf(group) {
    if (!group.gsOutline) {
      var outline = L.featureGroup();
      group.eachLayer(function (l) {
        var o = L.extend({}, l.options, { fill: false, interactive: false, renderer: GS.renderer });
        outline.addLayer(new GsSymbol(l.getLatLng(), o));
      });
      outline.gsOutlineOf = group;
      group.gsOutline = outline;
      GS.outlines.push(outline);
    }
    return group.gsOutline;
  }
  GS.outlines = [];

  /* Leaflet classes whose default options are a group's style: markers then need no
   * options of their own (100,000 markers build about twice as fast). */
  function styledClass(base, style) {
    return base.extend({ options: style });
  }

  function build(group) {
    var spec = group.gsSpec, table = tables[spec.table], n = spec.n;
    var rows = spec.rows, i, j, layer, s, base = { renderer: GS.renderer, interactive: true };
    var plain = !spec.cats && !spec.ramp, big = n > 20000;
    var Fixed = null;
    if (table.points && plain) {
      s = L.extend(styleOf(spec, table, 0, 0), base);
      if (big) { s.stroke = false; }  /* outlines double the drawing time */
      Fixed = styledClass(GsSymbol, s);
    }
    for (j = 0; j < n; j++) {
      i = rows === null ? j : rows[j];
      if (Fixed !== null) {
        layer = new Fixed(L.latLng(table.points[2 * i + 1], table.points[2 * i]));
        layer.gsRow = i;
        group.addLayer(layer);
        continue;
      }
      s = L.extend(styleOf(spec, table, i, j), base);
      if (table.points) {
        layer = new GsSymbol([table.points[2 * i + 1], table.points[2 * i]], s);
      } else if (table.links) {
        var lk = table.links, a = tables[lk.from].points, b = tables[lk.to].points;
        var ia = lk.rows[2 * i], ib = lk.rows[2 * i + 1];
        layer = L.polyline([[a[2 * ia + 1], a[2 * ia]], [b[2 * ib + 1], b[2 * ib]]], s);
      } else if (table.shape) {
        layer = shapeLayer(table, i, s);
      } else {
        layer = L.GeoJSON.geometryToLayer({ type: "Feature", geometry: table.geojson[i], properties: {} },
          L.extend({ pointToLayer: function (f, ll) { return new GsSymbol(ll, s); } }, s));
      }
      layer.gsRow = i;
      group.addLayer(layer);
    }
    group.bindTooltip(function (l) {
      return el("span", null, spec.tooltip ? fill(spec.tooltip, table, l.gsRow) : spec.title);
    }, { sticky: !table.points, direction: "top", opacity: 0.95 });
    group.bindPopup(function (l) { return popupContent(spec, table, l.gsRow); },
      { maxWidth: 380, maxHeight: 340, autoPanPadding: [30, 30] });
  }

  var LabelGroup = L.LayerGroup.extend({
    initialize: function (spec) {
      L.LayerGroup.prototype.initialize.call(this, []);
      this.gsSpec = spec;
      var table = tables[spec.table], col = table.byName[spec.options.column || "name"];
      for (var j = 0; j < spec.n; j++) {
        var i = spec.rows === null ? j : spec.rows[j], text = col ? cell(col, i) : null;
        if (text === null || text === undefined) { continue; }
        var label = el("span", null, String(text));
        this.addLayer(L.marker([spec.anchors[2 * j + 1], spec.anchors[2 * j]], {
          icon: L.divIcon({ className: "gs-label", html: label, iconSize: null }),
          interactive: false, keyboard: false, pane: "gsLabels"
        }));
      }
    },
    onAdd: function (map) {
      L.LayerGroup.prototype.onAdd.call(this, map);
      map.on("zoomend resize", this.gsDeclutter, this);
      this.gsDeclutter();
    },
    onRemove: function (map) {
      map.off("zoomend resize", this.gsDeclutter, this);
      L.LayerGroup.prototype.onRemove.call(this, map);
    },
    /* Labels avoid each other: each in turn takes the first of a few positions (on its
     * anchor, just above, just below) that overlaps no label already placed; a label with
     * no free position is hidden until a zoom makes room. */
    gsDeclutter: function () {
      var placed = [];
      this.eachLayer(function (marker) {
        var icon = marker.getElement(), span = icon && icon.firstChild;
        if (!span) { return; }
        span.style.visibility = "";
        for (var k = 0; k < LABEL_SHIFTS_PX.length; k++) {
          span.style.transform = "translate(-50%, calc(-50% + " + LABEL_SHIFTS_PX[k] + "px))";
          var r = span.getBoundingClientRect();
          if (!placed.some(function (q) { return overlap(q, r, LABEL_GAP_PX); })) {
            placed.push(r);
            return;
          }
        }
        span.style.transform = "";
        span.style.visibility = "hidden";
      });
    },
    gsCount: function () { return this.getLayers().length; }
  });
  var LABEL_SHIFTS_PX = [0, -13, 13, -24, 24], LABEL_GAP_PX = 2;
  function overlap(a, b, gap) {
    return a.left < b.right + gap && b.left < a.right + gap && a.top < b.bottom + gap && b.top < a.bottom + gap;
  }

  function heatGroup(spec) {
    var table = tables[spec.table], pts = [];
    for (var j = 0; j < spec.n; j++) {
      var i = spec.rows === null ? j : spec.rows[j];
      pts.push([table.points[2 * i + 1], table.points[2 * i]]);
    }
    var layer = L.heatLayer(pts, L.extend({ pane: "gsHeat" }, spec.options));
    layer.gsSpec = spec;
    layer.gsCount = function () { return pts.length; };
    return layer;
  }

  /* Called once per group, in layer-control order. */
  GS.group = function (map, index) {
    var spec = getData().groups[index];
    var layer;
    if (spec.kind === "heat") { layer = heatGroup(spec); }
    else if (spec.kind === "labels") { layer = new LabelGroup(spec); }
    else { layer = new DataGroup(spec); }
    GS.groups[index] = layer;
    return layer;
  };

  /* Before the groups: panes, the shared canvas renderer, the view. */
  GS.init = function (map) {
    var d = getData();
    [["gsHeat", 450], ["gsLabels", 460]].forEach(function (p) {
      var pane = map.createPane(p[0]);
      pane.style.zIndex = p[1];
      pane.style.pointerEvents = "none";
    });
    GS.renderer = L.canvas({ padding: 0.5, tolerance: 4 });
    L.control.scale({ imperial: false, maxWidth: 160 }).addTo(map);
    GS.map = map;
    compactSide(map);
    fit(map);
  };

  /* ---------------------------------------------------------------- screens of any size */
  /* Below this width of the map the headline panel and the layer list start closed (a
   * click opens them), so that the map keeps most of the screen; on a short or narrow
   * map (a phone, the report's embedded map) the legend starts closed too. */
  var COMPACT_BELOW_PX = 1500, SHORT_BELOW_PX = 640, NARROW_BELOW_PX = 800;
  function isCompact(map) { return map.getSize().x < COMPACT_BELOW_PX; }
  function compactSide(map) {
    var side = document.getElementById("gs-side"), summary = document.getElementById("gs-summary");
    var compact = isCompact(map);
    if (side) { side.classList.toggle("gs-compact", compact); }
    if (summary) { summary.open = !compact; }
  }

  /* After the layer control: close the panels on a compact screen; a click on the map
   * closes the layer list again. Only a change of width across the threshold reopens or
   * closes them, so what a reader opened stays open. */
  GS.layout = function (map, control) {
    GS.control = control;
    var last = null;
    function apply() {
      var compact = isCompact(map);
      if (compact === last) { return; }
      last = compact;
      compactSide(map);
      if (compact) { control.collapse(); } else { control.expand(); }
      GS.legendOpen = !compact || (map.getSize().y >= SHORT_BELOW_PX && map.getSize().x >= NARROW_BELOW_PX);
      drawLegend();
    }
    /* any press on the map outside the panels (features may keep their clicks to themselves) */
    L.DomEvent.on(map.getContainer(), "pointerdown", function (e) {
      var target = e.target;
      if (isCompact(map) && !(target.closest && target.closest(".leaflet-control"))) { control.collapse(); }
    });
    map.on("resize", apply);
    apply();
    GS.ready = true;
  };

  /* Fit the study into the part of the window the panels leave free (before anything is
   * drawn: moving the view later would draw every feature twice). */
  function fit(map) {
    var d = getData();
    if (!d.bounds) { return; }
    var w = map.getSize().x, h = map.getSize().y, left = 20, right = 20, top = 20;
    var side = document.getElementById("gs-side");
    if (isCompact(map)) {
      /* the closed headline panel sits in the top-left corner: start below it when the
       * map is tall enough, and leave room for the closed layer list on the right */
      right = 60;
      if (side && h - side.getBoundingClientRect().bottom > 0.7 * h) {
        top = side.getBoundingClientRect().bottom + 10;
      }
    } else {
      if (side) { left = side.getBoundingClientRect().right + 10; }
      right = 350;  /* the layer control, made after the layers */
    }
    if (w - left - right < 300) { left = 20; right = 20; }
    map.fitBounds(d.bounds, { paddingTopLeft: [left, top], paddingBottomRight: [right, 20], animate: false });
  }

  /* Draw the visible groups bottom to top, so that points stay above areas. */
  function restack() {
    GS.groups.slice().sort(function (a, b) { return a.gsSpec.rank - b.gsSpec.rank; })
      .forEach(function (g) {
        if (g.bringToFront && GS.map.hasLayer(g) && g.gsSpec.kind === "features") { g.bringToFront(); }
      });
    GS.outlines.forEach(function (o) { if (GS.map.hasLayer(o)) { o.bringToFront(); } });
  }

  /* After the groups: add the visible ones in draw order, legend, keep the order on toggles. */
  GS.finish = function (map) {
    GS.groups.slice().sort(function (a, b) { return a.gsSpec.rank - b.gsSpec.rank; })
      .forEach(function (g) { if (g.gsSpec.show) { g.addTo(map); } });
    GS.outlines.forEach(function (o) { if (map.hasLayer(o)) { o.bringToFront(); } });
    var legend = L.control({ position: "bottomright" });
    legend.onAdd = function () {
      var div = el("div", "gs-panel gs-legend");
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    legend.addTo(map);
    GS.legend = legend;
    drawLegend();
    map.on("overlayadd", function () { restack(); drawLegend(); });
    map.on("overlayremove", drawLegend);
  };

  /* ------------------------------------------------------------------------------ legend */
  var SVG = "http://www.w3.org/2000/svg";
  function svgEl(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function swatch(geom, s) {
    var svg = svgEl("svg", { width: 22, height: 16, viewBox: "0 0 22 16" });
    var stroke = s.stroke === false ? "none" : (s.color || "#3388ff");
    var fillc = s.fill === false ? "none" : (s.fillColor || s.color || "#3388ff");
    var paint = {
      stroke: stroke, "stroke-width": Math.min(s.weight === undefined ? 2 : s.weight, 3),
      fill: fillc, "fill-opacity": s.fill === false ? 0 : Math.max(s.fillOpacity === undefined ? 0.2 : s.fillOpacity, 0.25)
    };
    if (s.dashArray) { paint["stroke-dasharray"] = "3 2"; }
    var shape;
    if (geom === "line") {
      shape = svgEl("line", { x1: 1, y1: 8, x2: 21, y2: 8, stroke: s.color || "#3388ff", "stroke-width": Math.max(s.weight || 2, 1.5) });
      if (s.dashArray) { shape.setAttribute("stroke-dasharray", "3 2"); }
    } else if (geom === "polygon") {
      shape = svgEl("rect", L.extend({ x: 2, y: 2, width: 18, height: 12 }, paint));
    } else {
      var r = Math.min(s.radius || 5, 7), c = 11, m = 8, k;
      if (s.shape === "square") { shape = svgEl("rect", L.extend({ x: c - r, y: m - r, width: 2 * r, height: 2 * r }, paint)); }
      else if (s.shape === "diamond") { k = r * 1.2; shape = svgEl("polygon", L.extend({ points: [c, m - k, c + k, m, c, m + k, c - k, m].join(" ") }, paint)); }
      else if (s.shape === "triangle") { k = r * 1.15; shape = svgEl("polygon", L.extend({ points: [c, m - k, c + k, m + k * 0.8, c - k, m + k * 0.8].join(" ") }, paint)); }
      else if (s.shape === "cross") { k = r / 2.6; shape = svgEl("polygon", L.extend({ points: [c - k, m - r, c + k, m - r, c + k, m - k, c + r, m - k, c + r, m + k, c + k, m + k, c + k, m + r, c - k, m + r, c - k, m + k, c - r, m + k, c - r, m - k, c - k, m - k].join(" ") }, paint)); }
      else { shape = svgEl("circle", L.extend({ cx: c, cy: m, r: r }, paint)); }
    }
    svg.appendChild(shape);
    return svg;
  }
  function drawLegend() {
    var div = GS.legend.getContainer();
    while (div.firstChild) { div.removeChild(div.firstChild); }
    var open = GS.legendOpen !== false;
    var title = el("div", "gs-panel-title gs-toggle", (open ? "▾ " : "▸ ") + "Legend");
    title.setAttribute("role", "button");
    title.setAttribute("tabindex", "0");
    title.setAttribute("aria-expanded", String(open));
    L.DomEvent.on(title, "click keydown", function (e) {
      if (e.type === "keydown" && e.key !== "Enter" && e.key !== " ") { return; }
      L.DomEvent.preventDefault(e);
      GS.legendOpen = !open;
      drawLegend();
    });
    div.appendChild(title);
    div.classList.toggle("gs-closed", !open);
    if (!open) { return; }
    var shown = 0;
    GS.groups.slice().sort(function (a, b) { return b.gsSpec.rank - a.gsSpec.rank; }).forEach(function (g) {
      var spec = g.gsSpec;
      if (!GS.map.hasLayer(g) || spec.kind === "labels") { return; }
      shown += 1;
      if (spec.kind === "heat") {
        var row = el("div", "gs-legend-row");
        var bar = el("span", "gs-ramp gs-heat");
        row.appendChild(bar);
        row.appendChild(el("span", null, spec.title));
        div.appendChild(row);
        return;
      }
      if (spec.legend.length > 1) { div.appendChild(el("div", "gs-legend-head", spec.title)); }
      spec.legend.forEach(function (entry) {
        var row = el("div", "gs-legend-row" + (spec.legend.length > 1 ? " gs-legend-sub" : ""));
        if (!spec.ramp) { row.appendChild(swatch(spec.geom, entry.style)); }
        row.appendChild(el("span", null, entry.label));
        div.appendChild(row);
      });
      if (spec.ramp) {
        var st = spec.ramp.stops, rampRow = el("div", "gs-legend-row gs-legend-sub");
        var ramp = el("span", "gs-ramp");
        ramp.style.background = "linear-gradient(to right," + st.map(function (x) { return x[1]; }).join(",") + ")";
        rampRow.appendChild(el("span", "gs-ramp-end", format(spec.ramp.fmt, st[0][0])));
        rampRow.appendChild(ramp);
        rampRow.appendChild(el("span", "gs-ramp-end", format(spec.ramp.fmt, st[st.length - 1][0])));
        div.appendChild(rampRow);
        if (spec.ramp.label) { div.appendChild(el("div", "gs-legend-note", spec.ramp.label)); }
      }
    });
    if (!shown) { div.appendChild(el("div", "gs-legend-note", "No layer is switched on.")); }
  }
}());
