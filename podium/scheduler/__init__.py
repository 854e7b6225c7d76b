"""The scheduler role: job lifecycle decisions (ready, dispatch within limits, stop, finish) and
settling the runs of lost executors. Pure decisions in `decide`, the loop in `scheduler`.

Must not run node runs or talk HTTP; it reads the log through its projector and writes events,
work items and stop notices.
"""
