"""Offerings in the studio: the dashboard, creating, editing, publishing, duplicating and deleting one."""
