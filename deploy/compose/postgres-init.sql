-- One database per service (counterflow_shared.settings: CF_POSTGRES_DSN_TEMPLATE{database}).
CREATE DATABASE counterflow_ticketing;
CREATE DATABASE counterflow_selfservice;
CREATE DATABASE counterflow_mobile;
CREATE DATABASE counterflow_scoring;
