"""Functions and how they run: definitions, ``ctx``, the executor, scheduling, crons, HTTP actions.

``definitions`` holds the decorators an app uses; ``app_loader`` finds them; ``executor`` runs them
against the database with a ``context``; ``scheduler``, ``job_runner``, ``crons`` and
``cron_runner`` run them later; ``file_storage`` and ``environment`` back ``ctx.storage`` and
``process.env``.
"""
