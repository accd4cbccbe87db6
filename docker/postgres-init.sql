-- The three databases Storeloop uses (the same names `make setup` creates locally).
create database storeloop;
create database storeloop_airflow;
create database storeloop_mlflow;
