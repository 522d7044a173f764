read_lef tech.lef
read_lef cells.lef
read_liberty cells.lib
read_verilog alu_syn.v
link_design alu
read_sdc alu.sdc
initialize_floorplan -utilization 40 -aspect_ratio 1.0 -core_space 2 -site core
place_pins -hor_layers metal3 -ver_layers metal2
global_placement -density 0.7
detailed_placement
clock_tree_synthesis -root_buf BUF_X4 -buf_list {BUF_X1 BUF_X2}
global_route -guide_file route.guide -verbose
detailed_route -output_drc drc.rpt -verbose 1
report_checks -path_delay max
write_def alu.def
