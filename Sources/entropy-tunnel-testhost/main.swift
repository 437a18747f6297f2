import TestHost
print("x")
