"""Local demo marketplace with ground truth, for tests, demos and crawl benchmarks; the API is in ``demo.site``."""
