"""The columns of a members CSV file (`wgbot import members`), known to the command line's help
without loading the database layer."""

COLUMNS = ("organisation", "country", "kind", "groups", "representative", "accounts", "roles")
