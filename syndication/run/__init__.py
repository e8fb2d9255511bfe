"""Running the stages: one cycle (cycle), the worker's jobs (worker) and when each source's
fires (schedule), reloading the configuration (reload), what the worker says about itself
(health: /healthz, /metrics) and the process's life from start to stop (lifecycle)."""
