read_lef tech.lef
initialize_floorplan -utilization 40 -core_space 2
