"""The report written out: terminal text, JSON, CSV, an XLSX workbook, a Word section, SVG charts."""
