yosys -import
read_verilog alu.v
flatten -all
synth -top alu
