"""The interfaces people use: the ``rpa`` command, the agent's single steps and the flow commands, all
over the same steps and flows."""
