yosys read_verilog alu.v
yosys hierarchy -check -top alu
yosys proc
yosys opt -aggressive
yosys synth -top alu
yosys map_to_cells
yosys tee -o stat.txt stat
yosys write_verilog -noattr alu_syn.v
