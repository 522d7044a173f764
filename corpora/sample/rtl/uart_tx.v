// uart_tx.v - Pico SoC UART transmitter (8N1).
// One start bit, 8 data bits LSB first, one stop bit. Bit timing comes from
// the 16x oversampling tick generated in uart.v (one bit = 16 ticks).
module uart_tx (
    input  wire       clk,
    input  wire       rst_n,
    input  wire       tick16,    // 16x baud tick from the divisor counter
    input  wire       tx_en,     // CTRL.TX_EN
    input  wire       load,      // pulse: TXDATA written
    input  wire [7:0] data,
    output reg        txd,
    output wire       busy,
    output reg        done       // one-cycle pulse after the stop bit
);
    localparam S_IDLE  = 2'd0;
    localparam S_START = 2'd1;
    localparam S_DATA  = 2'd2;
    localparam S_STOP  = 2'd3;

    reg [1:0] state;
    reg [3:0] tick_cnt;
    reg [2:0] bit_idx;
    reg [7:0] shreg;

    assign busy = (state != S_IDLE);

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            state    <= S_IDLE;
            tick_cnt <= 4'd0;
            bit_idx  <= 3'd0;
            shreg    <= 8'h00;
            txd      <= 1'b1;
            done     <= 1'b0;
        end else begin
            done <= 1'b0;
            case (state)
                S_IDLE: begin
                    txd <= 1'b1;
                    if (load && tx_en) begin
                        shreg    <= data;
                        tick_cnt <= 4'd0;
                        state    <= S_START;
                    end
                end
                S_START: begin
                    txd <= 1'b0;
                    if (tick16) begin
                        tick_cnt <= tick_cnt + 4'd1;
                        if (tick_cnt == 4'd15) begin
                            bit_idx <= 3'd0;
                            state   <= S_DATA;
                        end
                    end
                end
                S_DATA: begin
                    txd <= shreg[0];
                    if (tick16) begin
                        tick_cnt <= tick_cnt + 4'd1;
                        if (tick_cnt == 4'd15) begin
                            shreg   <= {1'b0, shreg[7:1]};
                            bit_idx <= bit_idx + 3'd1;
                            if (bit_idx == 3'd7)
                                state <= S_STOP;
                        end
                    end
                end
                S_STOP: begin
                    txd <= 1'b1;
                    if (tick16) begin
                        tick_cnt <= tick_cnt + 4'd1;
                        if (tick_cnt == 4'd15) begin
                            state <= S_IDLE;
                            done  <= 1'b1;
                        end
                    end
                end
            endcase
        end
    end
endmodule
