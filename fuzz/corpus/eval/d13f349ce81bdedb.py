acc = 0.9
print(f'accuracy: {acc}')
