"""Reading what runs left behind, beside the run itself: the datasets the service and
the dashboard show (:mod:`.datasets`), whether every key of a delivery arrived once
(:mod:`.audit`), and the checks ``sluice validate`` makes beyond the file's structure
(:mod:`.check`). Nothing here writes to a warehouse."""
