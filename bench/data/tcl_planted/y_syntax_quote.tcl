yosys read_verilog alu.v
yosys hierarchy -check -top alu
yosys proc
yosys opt
yosys synth -top alu
yosys tee -o stat.txt stat
yosys write_verilog -noattr alu_syn.v
puts "done
