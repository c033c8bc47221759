# fragment owned by the qmp module
