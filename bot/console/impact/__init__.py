"""The impact dashboard at ``/console/impact`` (``routes``): each chart drawn by ECharts
from a table of figures (``tables``) that is also shown and downloaded as CSV or XLSX;
the period, village and tag people choose (``choices``); and the public summary at
``/impact`` (``public``), on only when an admin turned it on."""
