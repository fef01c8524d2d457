"""Fakes of outside services, served over real sockets for the test-suite."""
