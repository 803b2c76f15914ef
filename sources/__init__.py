"""dlt sources of crm-elt: one package per API, all HTTP through ``sources._http``."""
