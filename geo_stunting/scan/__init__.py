"""Where cases cluster: the Bernoulli spatial scan and the kernel relative risk.

- `_bernoulli`: Kulldorff's Bernoulli scan (SaTScan's model) and the ``scan`` step;
- `_kernels`: its compiled window search;
- `_bitsliced`: the replication sweep on bit-packed labels (one subject a location);
- `_llr`: the log-likelihood ratio and case-count thresholds both sweeps share;
- `_maxsize`: the Gini choice of the scan's largest window (as SaTScan);
- `_cutoffs`: the scan for every maximum size of that choice from one sweep of replications;
- `_relative_risk`: the kernel relative-risk surface on its support;
- `_bandwidth`: its cross-validated bandwidth (spatstat's ``bw.relrisk``);
- `_footprints`: its kernel sums for the data and every random labelling;
- `_contours`: raised-risk areas as tolerance contours that hold children;
- `_steps`: the ``scan`` and ``relative_risk`` steps and their layers;
"""

from __future__ import annotations

from geo_stunting.scan._bernoulli import ScanCluster, ScanResult, scan_bernoulli, scan_bernoulli_xy
from geo_stunting.scan._relative_risk import (
    BandwidthChoice,
    RelativeRiskResult,
    relative_risk_surface,
)

__all__ = [
    "BandwidthChoice",
    "RelativeRiskResult",
    "ScanCluster",
    "ScanResult",
    "relative_risk_surface",
    "scan_bernoulli",
    "scan_bernoulli_xy",
]
