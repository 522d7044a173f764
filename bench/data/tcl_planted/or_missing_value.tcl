read_db alu.odb
global_route -verbose -guide_file
