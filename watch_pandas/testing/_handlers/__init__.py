"""The HTTP handlers, one module per resource: ``meta`` (config, session, data sources),
``queries``, ``results`` (executions, results, jobs), ``dashboards``; ``common`` holds what they
share. A handler is ``handler(backend, request, caller, **url_values) -> Response``; it turns
requests down by raising ``Refusal`` (see ``.._backend``).
"""
