"""The local Lambda service: Lambda's `Invoke` on loopback, each function's pool of warm instances
(worker processes or containers of the built image) speaking the real Runtime API, Lambda's
concurrency, retry, destination and recursion rules, and the schedules that invoke functions."""
