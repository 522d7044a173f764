# pico_top.sdc - timing constraints for pico_top (50 MHz reference clock).
create_clock -name clk_ref -period 20.0 [get_ports clk_ref]
set_clock_uncertainty 2.0 [get_clocks clk_ref]
set_input_delay 4.0 -clock clk_ref [delete_from_list [all_inputs] [get_ports {clk_ref por_n uart_rxd}]]
set_output_delay 4.0 -clock clk_ref [delete_from_list [all_outputs] [get_ports uart_txd]]
# por_n and the UART pins are asynchronous to clk_ref
set_false_path -from [get_ports {por_n uart_rxd}]
set_false_path -to [get_ports uart_txd]
