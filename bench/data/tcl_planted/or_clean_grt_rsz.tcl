read_db alu_placed.odb
read_sdc alu.sdc
set_routing_layers -signal metal2-metal10 -clock metal6-metal9
set_io_pin_constraint -direction input -region top:*
global_connect
estimate_parasitics -placement
repair_timing -setup
repair_timing -hold -setup_margin 0.05 -verbose
clock_tree_synthesis -root_buf BUF_X4 -buf_list {BUF_X1 BUF_X2} -sink_clustering_enable
global_route -guide_file route.guide
report_checks -path_delay min_max
