"""The process: the migration of PROCESS.md as data (macros, activities, outcomes), as a workflow that
only decides, and as the durable steps and inboxes it needs."""
