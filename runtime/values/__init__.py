"""Convex values and what describes them: the layer every other one builds on.

``values`` (the Convex types, their sizes and order), ``errors`` (the errors functions and the
engine raise), ``ids``, ``keys`` (order-preserving index keys), ``validators`` (``v``) and
``schema`` (``define_schema``/``define_table``). Nothing here knows how values are stored or run.
"""
