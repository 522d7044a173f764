read_db alu.odb
detailed_placement -max_disp 5
route_design
global_route -congestion_iterations
