"""The files the console's and the CLI's exports write: ``sheets`` (spreadsheet-safe
cells, CSV with a byte-order mark and XLSX in constant memory, streamed to a file),
``writing`` (an export kind's rows read in batches and written through ``sheets``, to a
file that appears whole or not at all), ``runs`` (an export run at once or as a job of
the scheduler's process, audited, and its expired files deleted).

It lives in scheduler/, whose ``exports`` job writes the large exports (the console and
the CLI import it for theirs), rather than in models/: it is about files people open, not
a rule of the data, and models/ stays free of file I/O."""
