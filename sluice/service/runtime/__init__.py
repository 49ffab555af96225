"""What ``sluice serve`` runs beside answering requests: the scheduler, the folder
watcher, the daily retention (each a :class:`~sluice.service.runtime.periodic.Periodic`
thread), and the run hooks that send alerts and count metrics."""
