"""The event model, its codec, the log and queue ports with their adapters, and the fold.

Owns: what an event is (`model`), how it is encoded (`codec`), what the log says once folded
(`state`, `fold`), and how events move (`ports`; adapters `filelog`, `memory`; `producer` batches
appends, `projector` folds what is appended). Must not touch HTTP, transports or scheduling
policy: those live in `podium.api`, `podium.scheduler` and `podium.executor`.
"""
