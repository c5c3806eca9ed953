"""The result tables and figures the workflow writes for people: metrics and the FPA and PIA
tables (:mod:`~diffshare.reporting.tables`), their figures (:mod:`~diffshare.reporting.plots`)
and the jobs' benchmarks (:mod:`~diffshare.reporting.benchmarks`). Reporting reads the attacks'
outputs; no attack imports it."""
