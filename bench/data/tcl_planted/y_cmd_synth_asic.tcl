yosys read_verilog alu.v
yosys hierarchy -check -top alu
yosys proc
yosys opt
yosys synth_asic -top alu
yosys tee -o stat.txt stat
yosys write_verilog -noattr alu_syn.v
