"""Reusable pieces of the pages (graph, tables, forms, previews, the page shell)."""
