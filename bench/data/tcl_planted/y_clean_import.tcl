yosys -import
read_verilog alu.v
hierarchy -top alu
synth -top alu
opt_clean -purge
abc -g AND,NAND,OR,NOR,XOR
stat
write_verilog -noattr alu_gates.v
