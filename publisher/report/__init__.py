"""The annual disclosure report (政府信息公开工作年度报告): figures counted from the bot's records.

``publisher.report.build.build_report`` makes a ``Report``; ``publisher.report.output`` writes it
as a terminal table, JSON, CSV, XLSX or a Word section. This package's ``__init__`` imports
nothing, so the config models can import ``report.settings`` without a cycle.
"""
