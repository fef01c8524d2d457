"""Demo content shipped with the repository (a short video and a handout) and its seeder."""
