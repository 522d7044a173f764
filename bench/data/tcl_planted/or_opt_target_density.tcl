read_db alu.odb
global_placement -target_density 0.6
