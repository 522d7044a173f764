"""Tool logs (yosys, OpenROAD, any EDA tool): find, group and explain their errors and warnings.

The parser is :mod:`assistant.logs.parse`; the `explain_log` job (:mod:`assistant.jobs.logs`) retrieves the
documentation for each message and answers with citations.
"""
