read_db alu.odb
place_pins -hor_layers metal3
