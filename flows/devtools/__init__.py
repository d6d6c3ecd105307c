"""Development tools: the demo, the regression catalogue and the benchmarks, on one harness."""
