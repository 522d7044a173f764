foreach d {0.6 0.7} {
    global_placement -density $d
